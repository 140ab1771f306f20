import { Arg, Ctx, Mutation, Resolver } from 'type-graphql';
import type { GraphQLContext } from '../context';
import { forbidden } from '../errors';
import { idOf } from '../../shared/global-id';
import { toPlugin, toPrompt, toSampleSet } from '../mappers';
import {
  CancelPromptInput,
  CancelPromptPayload,
  CreatePromptInput,
  CreatePromptPayload,
  InstallPluginInput,
  InstallPluginPayload,
  SampleInput,
  SamplePayload,
  UninstallPluginInput,
  UninstallPluginPayload,
} from '../types/inputs';
import { UserError } from '../types/user-error';
import type { UserErrorData } from '../../shared/result';

const toUserErrors = (errors: UserErrorData[]) => errors.map((e) => UserError.of(e.code, e.message, e.field));
/** The per-client limit on expensive mutations (admin requests are exempt): a userError list, or null. */
function rateLimited({ services, admin, clientKey }: GraphQLContext): UserError[] | null {
  if (admin || !services.rateLimiter) return null;
  const refused = services.rateLimiter.take(clientKey ?? 'unknown');
  return refused ? toUserErrors([refused]) : null;
}
const unavailable = (what: string) => [
  UserError.of('UNAVAILABLE', `${what} is not available on this server (no tensor runtime is running)`),
];

@Resolver()
export class MutationResolver {
  @Mutation(() => CreatePromptPayload, {
    description: 'Validates, records the prompt QUEUED and queues its training.',
  })
  async createPrompt(
    @Arg('input') input: CreatePromptInput,
    @Ctx() ctx: GraphQLContext,
  ): Promise<CreatePromptPayload> {
    const { services } = ctx;
    const limited = rateLimited(ctx);
    if (limited) return { prompt: null, userErrors: limited };
    const result = await services.prompts.create(input);
    if (!result.ok) return { prompt: null, userErrors: toUserErrors(result.errors) };
    await services.prompts.publishStatus(result.value);
    return { prompt: toPrompt(result.value), userErrors: [] };
  }

  @Mutation(() => CancelPromptPayload, { description: 'Moves a queued or training prompt to CANCELLED.' })
  async cancelPrompt(
    @Arg('input') input: CancelPromptInput,
    @Ctx() { services }: GraphQLContext,
  ): Promise<CancelPromptPayload> {
    const rowId = idOf('Prompt', input.id);
    if (!rowId) return { prompt: null, userErrors: [UserError.of('NOT_FOUND', 'unknown prompt id', ['id'])] };
    const result = await services.prompts.cancel(rowId);
    if (!result.ok) return { prompt: null, userErrors: toUserErrors(result.errors) };
    return { prompt: toPrompt(result.value), userErrors: [] };
  }

  @Mutation(() => SamplePayload, { description: 'Samples a trained prompt or a bare generator.' })
  async sample(@Arg('input') input: SampleInput, @Ctx() ctx: GraphQLContext): Promise<SamplePayload> {
    const { services } = ctx;
    const limited = rateLimited(ctx);
    if (limited) return { sampleSet: null, userErrors: limited };
    if (!services.samples) return { sampleSet: null, userErrors: unavailable('sampling') };
    const result = await services.samples.sample(input);
    if (!result.ok) return { sampleSet: null, userErrors: toUserErrors(result.errors) };
    return { sampleSet: toSampleSet(result.value), userErrors: [] };
  }

  @Mutation(() => InstallPluginPayload, {
    description: 'Admin: installs a plugin from npm, a directory or a .tgz.',
  })
  async installPlugin(
    @Arg('input') input: InstallPluginInput,
    @Ctx() { services, admin }: GraphQLContext,
  ): Promise<InstallPluginPayload> {
    if (!admin) throw forbidden('installPlugin');
    if (!services.plugins) return { plugin: null, userErrors: unavailable('plugin installation') };
    const result = await services.plugins.install(input.spec, {
      allowDowngrade: input.allowDowngrade === true,
    });
    if (!result.ok) return { plugin: null, userErrors: toUserErrors(result.errors) };
    return { plugin: toPlugin(result.value), userErrors: [] };
  }

  @Mutation(() => UninstallPluginPayload, { description: 'Admin: removes an installed plugin.' })
  async uninstallPlugin(
    @Arg('input') input: UninstallPluginInput,
    @Ctx() { services, admin }: GraphQLContext,
  ): Promise<UninstallPluginPayload> {
    if (!admin) throw forbidden('uninstallPlugin');
    if (!services.plugins) return { removed: false, userErrors: unavailable('plugin removal') };
    const result = await services.plugins.uninstall(input.name);
    if (!result.ok) return { removed: false, userErrors: toUserErrors(result.errors) };
    return { removed: result.value, userErrors: [] };
  }
}
