export { heartbeatKey, listWorkers, removeHeartbeat, writeHeartbeat } from './heartbeat';
export type { WorkerHeartbeat } from './heartbeat';
export { ThroughputMeter } from './throughput-meter';
