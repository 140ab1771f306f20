/**
 * @promptgen/controls as a plugin definition, and the registry's rules for named classifiers:
 * definitions are validated, and a classifier name belongs to one plugin.
 */
import { PluginRegistry } from '../../../src/plugins/registry';
import { validatePluginDefinition } from '../../../src/plugins/validate';
import { type LoadedPlugin as LoadedPluginLike } from '../../../src/plugins/loader';
import { controlsPlugin } from './maths';

describe('plugin definition and registry', () => {
  test('the controls plugin is a valid definition; classifier definitions are validated', () => {
    expect(validatePluginDefinition(controlsPlugin)).toEqual([]);
    const load = () => {
      throw new Error('unused');
    };
    const bad = validatePluginDefinition({
      apiVersion: 1,
      classifiers: [
        { name: 'Bad Name', title: 't', classNames: ['a'], load },
        { name: 'ok-one', title: 't', classNames: [], load },
        { name: 'ok-one', title: 't', classNames: ['a', 'a'], load },
        { name: 'ok-two', title: '', classNames: ['a'] },
      ],
      controls: [{ name: 'c-one', title: 't', paramsSchema: {}, load, checkParams: 3 }],
    });
    expect(bad.join('\n')).toMatch(/classifiers\[0\]\.name "Bad Name" is invalid/);
    expect(bad.join('\n')).toMatch(/classNames must be a non-empty array/);
    expect(bad.join('\n')).toMatch(/classifier name "ok-one" is defined twice/);
    expect(bad.join('\n')).toMatch(/classNames must be distinct/);
    expect(bad.join('\n')).toMatch(/ok-two.*title must be a non-empty string/);
    expect(bad.join('\n')).toMatch(/ok-two.*load must be a function/);
    expect(bad.join('\n')).toMatch(/checkParams must be a function/);
  });

  test('classifier names are global: a second plugin offering the same name is FAILED', () => {
    const reg = new PluginRegistry();
    const def = (name: string) => ({
      apiVersion: 1 as const,
      classifiers: [
        { name, title: name, classNames: ['a', 'b'], load: () => Promise.reject(new Error('no')) },
      ],
    });
    const mk = (pkg: string, name: string): LoadedPluginLike => ({
      name: pkg,
      version: '1.0.0',
      dir: '/nonexistent',
      source: 'BUILTIN',
      status: 'LOADED',
      definition: def(name),
    });
    expect(reg.add(mk('a', 'shared-name')).status).toBe('LOADED');
    const second = reg.add(mk('b', 'shared-name'));
    expect(second.status).toBe('FAILED');
    expect(second.error).toMatch(/classifier name "shared-name" is already used by plugin a/);
    expect(reg.classifierNames()).toEqual(['shared-name']);
    reg.remove('a');
    expect(reg.classifierNames()).toEqual([]);
  });
});
