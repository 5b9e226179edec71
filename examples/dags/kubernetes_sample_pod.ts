/**
 * `kubernetes_sample` with pods, as in Airflow's example: `run_this_first`, then a
 * pod that passes (python:3.12-slim printing "hello world") and one that fails (the same
 * command in ubuntu:24.04, which has no python). Manual only:
 * `./aloft trigger kubernetes_sample_pod --wait`. The pods run where the worker's
 * cluster is (KUBECONFIG or in-cluster; the quick start without one: a local stand-in),
 * in the worker's ALOFT_TASK_POD_NAMESPACE (the shipped manifests: aloft-tasks).
 */
import { dag } from '@aloft/core/dag';

const sample = dag({
  id: 'kubernetes_sample_pod',
  description: 'kubernetes_sample with real pods: a passing and a failing one',
  schedule: null,
  tags: ['example', 'sample', 'kubernetes'],
  defaultArgs: { owner: 'aloft', retries: 1, retryDelay: '2s' },
});

const start = sample.empty({ id: 'run_this_first' });

const passing = sample.kubernetesPod({
  id: 'passing',
  image: 'python:3.12-slim',
  cmds: ['python', '-c'],
  arguments: ["print('hello world')"],
  labels: { foo: 'bar' },
  getLogs: true,
  startupTimeout: '5m',
});

const failing = sample.kubernetesPod({
  id: 'failing',
  image: 'ubuntu:24.04',
  cmds: ['python', '-c'],
  arguments: ["print('hello world')"],
  labels: { foo: 'bar' },
  getLogs: true,
  startupTimeout: '5m',
});

start.then([passing, failing]);
