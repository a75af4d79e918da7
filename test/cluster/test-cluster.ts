// A cluster for the cluster room's unit tests: ClusterRooms sharing one in-memory Redis
// (MemoryRedis), each node with its own recording Delivery, a hand-moved clock shared with Redis,
// and heartbeats that run when the test says. No sockets, no redis-server, no real time.

import { pino } from 'pino';
import { ClusterRoom } from '../../cluster/cluster-room.ts';
import { checkName, type Command } from '../../protocol/index.ts';
import { CloseReason } from '../../room/close-reason.ts';
import type { ResumeRequest } from '../../room/room-core.ts';
import type { RoomSettings } from '../../room/room.ts';
import { RecordingDelivery, type Op } from '../helpers/recording-delivery.ts';
import { ManualClock, ManualTimers } from './manual-clock.ts';
import { MemoryLink, MemoryRedis } from './memory-link.ts';

export const SETTINGS: RoomSettings = { maxClients: 10, maxPerIp: 0, idleTimeoutSeconds: 60, rateLimit: 2, rateBurst: 5 };

/** One node: its room, its link to the shared Redis, what it delivered, and its heartbeat. */
export class TestNode {
  readonly delivery = new RecordingDelivery();
  readonly link: MemoryLink;
  readonly timers: ManualTimers;
  readonly room: ClusterRoom;

  constructor(cluster: TestCluster, node: string, settings: RoomSettings) {
    this.link = new MemoryLink(cluster.redis);
    this.timers = new ManualTimers(cluster.clock);
    this.room = new ClusterRoom(settings, {
      delivery: this.delivery,
      log: pino({ level: 'silent' }),
      link: this.link,
      node,
      timers: this.timers,
      // The time of day of a history entry is Redis's (its stream id), never this.
      wallClock: () => 0,
    });
  }

  // The room's own clock (idle deadlines, the time of a handled event) stays at 0 here; the idle
  // test moves it itself.
  connect(id: number, addr: string, resume?: ResumeRequest): void {
    const ip = addr.slice(0, addr.lastIndexOf(':'));
    this.room.handle(resume === undefined ? { kind: 'connect', id, addr, ip } : { kind: 'connect', id, addr, ip, resume }, 0);
  }

  command(id: number, command: Command): void {
    this.room.handle({ kind: 'command', id, command }, 0);
  }

  say(id: number, text: string): void {
    this.command(id, { type: 'text', text });
  }

  disconnect(id: number, reason: CloseReason = CloseReason.ClientClosed): void {
    this.room.handle({ kind: 'disconnect', id, reason }, 0);
  }

  take(): Op[] {
    return this.delivery.take();
  }
}

export class TestCluster {
  readonly clock = new ManualClock();
  readonly redis = new MemoryRedis(this.clock);

  async start(node: string, settings: RoomSettings = SETTINGS): Promise<TestNode> {
    const started = new TestNode(this, node, settings);
    await started.room.start();
    return started;
  }

  /**
   * Lets every chain of promises run out. The memory links answer with promises only, never a
   * timer, and a setImmediate callback runs only once the microtask queue is empty.
   */
  async settle(): Promise<void> {
    await new Promise<void>((resolve) => setImmediate(resolve));
  }

  /** Moves the shared clock on (reads' BLOCK, retry delays, heartbeat TTLs), then settles. */
  async advance(ms: number): Promise<void> {
    this.clock.advance(ms);
    await this.settle();
  }
}

/** `rename|NAME` as the parser gives it. */
export function rename(name: string): Command {
  const checked = checkName(name);
  if ('error' in checked) throw new Error(`bad test name ${name}`);
  return { type: 'rename', name: checked.name };
}
