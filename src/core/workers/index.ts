export { heartbeatKey, listWorkers, removeHeartbeat, writeHeartbeat } from './heartbeat';
export type { WorkerHeartbeat } from './heartbeat';
export { ThroughputMeter } from './throughput-meter';
export { HISTORY_DAYS, ThroughputHistory, readThroughput, throughputKey } from './throughput-history';
export type { ThroughputBin, ThroughputSeries } from './throughput-history';
