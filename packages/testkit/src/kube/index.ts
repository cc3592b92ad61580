/** `@gatehouse/testkit/kube`: a real kube-apiserver + etcd for tests (see cluster.ts, shared.ts). */
export {
  buildKubeApiServer,
  buildKubectl,
  findGo,
  KubeToolMissingError,
  KUBE_APISERVER_BINARY,
  KUBECTL_BINARY,
  type BuildResult,
} from './build.ts';
export {
  startKubeApiServer,
  connectKubeCluster,
  kubeconfigJSON,
  type KubeCluster,
  type KubectlResult,
  type StartKubeOptions,
} from './cluster.ts';
export {
  kubeGlobalSetup,
  connectSharedKube,
  KUBE_PROVIDE_KEY,
  type ProvidedKube,
  type KubeGlobalSetup,
} from './shared.ts';
