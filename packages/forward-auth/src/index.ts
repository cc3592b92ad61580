export { startForwardAuth, type StartOptions, type RunningForwardAuth } from './server.ts';
export { createForwardAuthHandler, type ForwardAuthHandler, type HandlerOptions } from './router.ts';
export {
  loadForwardAuthConfig,
  validateForwardAuthConfig,
  ForwardAuthConfigError,
  type ConfigIssue,
  type LoadOptions,
  type LoadedConfig,
} from './config/load.ts';
export type { ForwardAuthConfig, ForwardAuthConfigInput } from './config/schema.ts';
export { RedirectValidator } from './redirect.ts';
export type { Session } from './session/payload.ts';
