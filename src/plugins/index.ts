/**
 * The host side of the plugin system: loader, registry, installer, validation.
 * Plugin authors use only `../sdk` (published as `promptgen/plugin`).
 */
export * from '../sdk';
export {
  validatePluginDefinition,
  validatePromptgenField,
  validateParams,
  compileParamsSchema,
  paramsSchemaError,
} from './validate';
export type { ParamError, ParamsValidation } from './validate';
export { loadPluginPackage, builtinPluginsDir, tfjsModelPlugin, unwrapDefinition } from './loader';
export type { LoadedPlugin, LoadOptions, PluginSource, PluginStatus } from './loader';
export { PluginRegistry, consoleLogger, installedPackageDirs } from './registry';
export type { PluginRuntime, RegisteredGenerator, RegisteredControl, LoadAllOptions } from './registry';
export { createAssetResolver, fileModelHandler } from './assets';
export {
  installPlugin,
  installRecorded,
  uninstallPlugin,
  installedPlugins,
  readInstalledRecords,
  pluginsPrefix,
  isLocalSpec,
  registrySpecName,
  InstallError,
} from './installer';
export type {
  InstallOptions,
  InstallResult,
  InstallRecord,
  InstallErrorCode,
  UninstallResult,
} from './installer';
