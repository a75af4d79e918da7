import * as vega from 'vega';
import { compile } from 'vega-lite';
import { describe, expect, it } from 'vitest';
import { latencySeries, latencySpec, logDecades, readRuns } from '../../bench/plot-series.ts';

/** A round as report.ts's toJson writes it, with only what the plot reads and a few neighbours. */
function round(sentPerSecond: number, p50: number, p99: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    rate: sentPerSecond / 10,
    sent: sentPerSecond * 3,
    loadSeconds: 3,
    sentMessagesPerSecond: sentPerSecond,
    latencyMs: { p50, p90: p50 * 2, p99, p999: p99 * 1.5, max: p99 * 2, mean: p50 },
    integrity: { received: 1, duplicated: 0, late: 0, lost: 0, orderDisagreements: 0 },
    held: p99 < 100,
    ...extra,
  };
}

function run(kind: string, rounds: Array<Record<string, unknown>>, workload?: string): Record<string, unknown> {
  return {
    ...(workload === undefined ? {} : { workload }),
    target: { kind, host: '127.0.0.1', port: 1, protocol: 'chatd', workers: null },
    options: { clients: 100, senders: 10, p99BoundMs: 100 },
    connect: { clients: 100, greeted: 100 },
    rounds,
  };
}

describe('readRuns', () => {
  it('reads a bench:peers array, each run with its workload and server', () => {
    const runs = readRuns([run('chatd', [round(20, 1, 5)], 'W4-max'), run('nats', [round(20, 2, 6)], 'W4-max')]);
    expect(runs.map((r) => [r.workload, r.server])).toEqual([
      ['W4-max', 'chatd'],
      ['W4-max', 'nats'],
    ]);
    // offered deliveries/s = messages sent per second × clients
    expect(runs[0]!.rounds[0]!.offeredDeliveriesPerSecond).toBe(2000);
  });

  it('labels a single chat-bench result, which has no workload name, by its size', () => {
    expect(readRuns(run('seed', [round(20, 1, 5)]))[0]!.workload).toBe('100 clients, 10 senders');
  });

  it('takes the sent rate from sent and loadSeconds, and held from p99 and lost, in JSON older than those fields', () => {
    const old = round(20, 1, 150);
    delete old['sentMessagesPerSecond'];
    delete old['held'];
    const [parsed] = readRuns(run('chatd', [old]));
    expect(parsed!.rounds[0]).toMatchObject({ offeredDeliveriesPerSecond: 2000, held: false });
  });

  it('names the missing field when the JSON is not chat-bench output', () => {
    expect(() => readRuns({ options: { clients: 1, senders: 1 }, target: {} })).toThrow('result 1: no rounds array');
    expect(() => readRuns(run('chatd', [{ ...round(20, 1, 5), latencyMs: { p50: 1 } }]))).toThrow('result 1.rounds[0].latencyMs.p90: expected a number');
    expect(() => readRuns([42])).toThrow('result 1: expected an object');
  });
});

describe('latencySeries', () => {
  it('gives one point per step and percentile, labelled p99.9 for p999', () => {
    const runs = readRuns([run('chatd', [round(20, 1, 5), round(32, 2, 8)], 'W4')]);
    const points = latencySeries(runs, ['p50', 'p999']);
    expect(points.map((p) => [p.percentile, p.offeredDeliveriesPerSecond, p.latencyMs])).toEqual([
      ['p50', 2000, 1],
      ['p99.9', 2000, 7.5],
      ['p50', 3200, 2],
      ['p99.9', 3200, 12],
    ]);
  });

  it('merges repeated runs step by step into medians, and a step held if most runs held it', () => {
    const runs = readRuns([
      run('nats', [round(20, 1, 5), round(32, 2, 150)], 'W4'),
      run('nats', [round(22, 3, 7), round(30, 4, 90)], 'W4'),
      run('nats', [round(21, 2, 6), round(31, 3, 200), round(50, 9, 300)], 'W4'),
    ]);
    const p99 = latencySeries(runs, ['p99']);
    expect(p99.map((p) => [p.offeredDeliveriesPerSecond, p.latencyMs, p.held])).toEqual([
      [2100, 6, true],
      [3100, 150, false],
      // only one run reached the third step: its own figures
      [5000, 300, false],
    ]);
  });

  it('marks a step bench-bound when most runs could not offer it', () => {
    const runs = readRuns([run('chatd', [round(20, 1, 5, { isBenchBound: true })], 'W4'), run('chatd', [round(20, 1, 5)], 'W4'), run('chatd', [round(20, 1, 5, { isBenchBound: true })], 'W4')]);
    expect(latencySeries(runs, ['p50'])[0]).toMatchObject({ held: true, isBenchBound: true });
  });

  it('keeps servers and workloads apart', () => {
    const runs = readRuns([run('chatd', [round(20, 1, 5)], 'A'), run('chatd', [round(20, 9, 9)], 'B'), run('seed', [round(20, 4, 4)], 'A')]);
    expect(latencySeries(runs, ['p50']).map((p) => `${p.workload}/${p.server}=${p.latencyMs}`)).toEqual(['A/chatd=1', 'B/chatd=9', 'A/seed=4']);
  });
});

describe('logDecades', () => {
  it.each([
    [[1.8, 296], [1, 1000]],
    [[10, 100], [10, 100]],
    [[0.42, 3], [0.1, 10]],
    [[5], [1, 10]],
    [[100], [100, 1000]],
    [[0, -3, 20], [10, 100]],
    [[], [1, 10]],
  ])('spans %j with the decades %j', (values, decades) => {
    const [low, high] = logDecades(values);
    expect(low).toBeCloseTo(decades[0]!, 12);
    expect(high).toBeCloseTo(decades[1]!, 12);
  });
});

describe('latencySpec', () => {
  const points = latencySeries(
    readRuns([run('chatd', [round(20, 1, 5), round(32, 2, 120)], 'W4-max'), run('nats', [round(20, 2, 9)], 'W4-max')]),
    ['p50', 'p99'],
  );

  it('puts latency on a log axis spanning whole decades, the bound included, one panel per workload', () => {
    const spec = latencySpec(points, { title: 'W4', boundMs: 100 }) as unknown as {
      facet: { column: { field: string } };
      spec: { layer: Array<{ mark: { type: string }; encoding: { y: { scale?: { type: string; domain: number[] }; datum?: number } } }> };
    };
    expect(spec.facet.column.field).toBe('workload');
    expect(spec.spec.layer[0]!.encoding.y.scale).toEqual({ type: 'log', domain: [1, 1000] });
    expect(spec.spec.layer.map((layer) => layer.mark.type)).toEqual(['line', 'point', 'rule']);
    expect(spec.spec.layer[2]!.encoding.y.datum).toBe(100);
  });

  it('renders to an SVG with the title, the axis titles and every server in the legend', async () => {
    const view = new vega.View(vega.parse(compile(latencySpec(points, { title: 'W4 for three servers', boundMs: null })).spec), { renderer: 'none' });
    const svg = await view.toSVG();
    view.finalize();
    expect(svg.startsWith('<svg')).toBe(true);
    for (const text of ['W4 for three servers', 'offered load', 'latency, send to receipt', 'chatd', 'nats', 'p99']) expect(svg).toContain(text);
  });
});
