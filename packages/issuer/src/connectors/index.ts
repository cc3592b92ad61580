export {
  createRegistry,
  checkKitVersion,
  ConnectorRegistryError,
  RegistryErrorCodes,
  BUILTIN_PACKAGES,
  IN_PROCESS_FACTORIES,
} from './registry.ts';
export type {
  ConnectorRegistry,
  OpenedConnector,
  OpenConnectorsContext,
  RegistryOptions,
  RegistryErrorCode,
} from './registry.ts';
export { localFactory, openLocalConnector, LOCAL_CONNECTOR_ID, LOCAL_CONNECTOR_NAME } from './local.ts';
export type { LocalConnectorContext, LocalConfig } from './local.ts';
export { mockCallbackFactory, mockPasswordFactory, KILGORE_TROUT } from './mock.ts';
