export { startIssuer } from './server/start.ts';
export type { RunningIssuer, StartIssuerOptions } from './server/start.ts';
export { loadConfig, loadConfigFile } from './config/load.ts';
export type { IssuerConfig } from './config/types.ts';
export { encodeSubject, decodeSubject } from './server/grants/subject.ts';
