// The metrics of both sides without threads: a worker's plain counters read into its registry,
// and the primary's merge of its own registry with the workers' answers into one scrape.

import { afterEach, describe, expect, it } from 'vitest';
import { CloseReason, KICK_REASONS } from '../../room/close-reason.ts';
import { createWorkerCounters, perTransport, PrimaryMetrics, WorkerMetrics } from '../../server/metrics.ts';

const stoppers: Array<{ stop(): void }> = [];
afterEach(() => {
  for (const metrics of stoppers.splice(0)) metrics.stop();
});

function worker(index: number, clients = 0): { counters: ReturnType<typeof createWorkerCounters>; metrics: WorkerMetrics } {
  const counters = createWorkerCounters();
  const metrics = new WorkerMetrics(index, counters, () => ({ ...perTransport(), tcp: clients }));
  stoppers.push(metrics);
  return { counters, metrics };
}

function primary(online = 0): PrimaryMetrics {
  const metrics = new PrimaryMetrics(() => online);
  stoppers.push(metrics);
  return metrics;
}

/** The value of one sample line, e.g. `chatd_lines_in_total{worker="0"}`. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('WorkerMetrics', () => {
  it('shows what the plain counters grew to, scrape after scrape', async () => {
    const zero = worker(0);
    const one = worker(1, 2);
    zero.counters.linesIn = 3;
    zero.counters.bytesIn = 30;
    one.counters.deliveries = 7;
    let scrape = await primary(2).render([await zero.metrics.collect(), await one.metrics.collect()], 0);
    expect(sample(scrape.text, 'chatd_lines_in_total{worker="0"}')).toBe(3);
    expect(sample(scrape.text, 'chatd_bytes_in_total{worker="0"}')).toBe(30);
    expect(sample(scrape.text, 'chatd_deliveries_total{worker="1"}')).toBe(7);
    expect(sample(scrape.text, 'chatd_clients_connected{worker="1",transport="tcp"}')).toBe(2);
    expect(sample(scrape.text, 'chatd_clients_connected{worker="1",transport="wss"}')).toBe(0);
    zero.counters.linesIn += 2;
    scrape = await primary().render([await zero.metrics.collect()], 1);
    expect(sample(scrape.text, 'chatd_lines_in_total{worker="0"}')).toBe(5);
    expect(sample(scrape.text, 'chatd_scrape_workers_missing')).toBe(1);
  });

  it('counts accepted connections by transport, and the refusals of the web and TLS listeners', async () => {
    const { counters, metrics } = worker(0);
    counters.accepted.tcp = 2;
    counters.accepted.ws = 1;
    counters.originRefusals = 3;
    counters.tlsHandshakeFailures = 4;
    let { text } = await primary().render([await metrics.collect()], 0);
    expect(sample(text, 'chatd_connections_total{worker="0",transport="tcp"}')).toBe(2);
    expect(sample(text, 'chatd_connections_total{worker="0",transport="ws"}')).toBe(1);
    expect(sample(text, 'chatd_connections_total{worker="0",transport="tls"}')).toBe(0);
    expect(sample(text, 'chatd_websocket_origin_refusals_total{worker="0"}')).toBe(3);
    expect(sample(text, 'chatd_tls_handshake_failures_total{worker="0"}')).toBe(4);
    counters.accepted.ws += 2;
    ({ text } = await primary().render([await metrics.collect()], 0));
    expect(sample(text, 'chatd_connections_total{worker="0",transport="ws"}')).toBe(3);
  });

  it('counts one fan-out batch in its bucket, its sum and its count', async () => {
    const { metrics } = worker(0);
    metrics.observeFanOut(0.0003);
    const { text } = await primary().render([await metrics.collect()], 0);
    expect(sample(text, 'chatd_fanout_batch_seconds_bucket{le="0.00025",worker="0"}')).toBe(0);
    expect(sample(text, 'chatd_fanout_batch_seconds_bucket{le="0.0005",worker="0"}')).toBe(1);
    expect(sample(text, 'chatd_fanout_batch_seconds_bucket{le="+Inf",worker="0"}')).toBe(1);
    expect(sample(text, 'chatd_fanout_batch_seconds_sum{worker="0"}')).toBe(0.0003);
    expect(sample(text, 'chatd_fanout_batch_seconds_count{worker="0"}')).toBe(1);
  });
});

describe('PrimaryMetrics', () => {
  it('lists every kick reason from the start, and counts kicks by reason', async () => {
    const metrics = primary();
    metrics.countKick(CloseReason.IdleTimeout);
    metrics.countKick(CloseReason.IdleTimeout);
    const { text } = await metrics.render([], 0);
    for (const reason of KICK_REASONS) {
      expect(sample(text, `chatd_kicks_total{reason="${reason}"}`), reason).toBe(reason === CloseReason.IdleTimeout ? 2 : 0);
    }
    expect(sample(text, 'chatd_kicks_total{reason="Quit"}')).toBeUndefined();
  });

  it('puts every worker\'s series of a metric under one HELP and TYPE, in the Prometheus text format', async () => {
    const { text, contentType } = await primary(1).render([await worker(0).metrics.collect(), await worker(1).metrics.collect()], 0);
    expect(contentType).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(text.match(/^# TYPE chatd_lines_in_total counter$/gm)).toHaveLength(1);
    expect(text.match(/^# TYPE chatd_event_loop_lag_seconds gauge$/gm)).toHaveLength(1);
    for (const thread of ['primary', 'worker-0', 'worker-1']) {
      expect(sample(text, `chatd_event_loop_lag_seconds{thread="${thread}",quantile="0.99"}`), thread).toBeGreaterThanOrEqual(0);
    }
    expect(sample(text, 'chatd_clients_online')).toBe(1);
  });
});
