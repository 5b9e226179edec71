/**
 * A kubernetesPod task's parameters as validatePodOptions (dag-api/pod-options.ts) returns
 * them and SerializedTask stores them: durations in ms, defaults filled (onFinish, getLogs).
 * Kubernetes objects passed through (volumes, containers, a pod template) are plain JSON
 * here, so the model does not depend on @kubernetes/client-node; the worker reads them as
 * its client's types.
 */
export type PodParams = {
  image: string;
  /** Unset: the namespace of the worker that runs the pod (ALOFT_TASK_POD_NAMESPACE). */
  namespace?: string;
  cmds?: string[];
  arguments?: string[];
  env?: Record<string, string | { secretKeyRef?: { name: string; key: string }; configMapKeyRef?: { name: string; key: string } }>;
  envFrom?: ({ secretRef: { name: string } } | { configMapRef: { name: string } })[];
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  namePrefix?: string;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  secrets?: SecretParam[];
  volumes?: KubeNamed[];
  volumeMounts?: ({ name: string; mountPath: string } & KubeObject)[];
  nodeSelector?: Record<string, string>;
  affinity?: KubeObject;
  tolerations?: KubeObject[];
  serviceAccountName?: string;
  imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
  imagePullSecrets?: string[];
  securityContext?: KubeObject;
  containerSecurityContext?: KubeObject;
  initContainers?: KubeNamed[];
  sidecars?: KubeNamed[];
  hostNetwork?: boolean;
  dnsPolicy?: string;
  priorityClassName?: string;
  podTemplate?: KubeObject;
  podTemplateFile?: string;
  startupTimeoutMs?: number;
  activeDeadlineMs?: number;
  terminationGracePeriodMs?: number;
  onFinish: 'delete' | 'deleteOnSuccess' | 'keep';
  getLogs: boolean;
  skipExitCodes?: number[];
  cluster?: { kubeconfig?: string; context?: string; inCluster?: boolean };
  oomRetry?: { factor: number; max: string };
  /** The worker copies the values the pod's secret references name into a Secret of the pod's own. */
  materializeSecrets?: boolean;
};

/** A secret reaches the pod by reference only: as one env var, all keys as env, or files. */
export type SecretParam =
  | { type: 'env'; secret: string; key: string; envName: string }
  | { type: 'envFrom'; secret: string }
  | { type: 'volume'; secret: string; mountPath: string; items?: { key: string; path: string }[] };

/** A Kubernetes object given in a DAG file, kept as JSON. */
export type KubeObject = Record<string, unknown>;
/** One with a name: a volume, a container. */
export type KubeNamed = { name: string } & KubeObject;
