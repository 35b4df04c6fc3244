import test from 'ava';
import { OrderedSender, type SendingSocket } from './ordered-sender.ts';

/** A socket like zeromq.js's: one send in flight; a second one while it waits throws EBUSY synchronously. */
class FakeSocket implements SendingSocket {
  readonly delivered: string[] = [];
  private waiting: (() => void) | undefined;
  writable = true;

  send(frames: Buffer[]): Promise<void> {
    if (this.waiting !== undefined) throw Object.assign(new Error('Socket is busy writing'), { code: 'EBUSY' });
    const name = frames[0].toString();
    if (this.writable) {
      this.delivered.push(name);
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.waiting = () => {
        this.waiting = undefined;
        this.delivered.push(name);
        resolve();
      };
    });
  }

  becomeWritable(): void {
    this.writable = true;
    this.waiting?.();
  }
}

const frames = (name: string): Buffer[] => [Buffer.from(name)];

test('a writable socket gets each message at once, synchronously, as inside a compute', (t) => {
  const socket = new FakeSocket();
  const sender = new OrderedSender(socket);
  for (const name of ['a', 'b', 'c']) void sender.send(frames(name));
  t.deepEqual(socket.delivered, ['a', 'b', 'c'], 'delivered before any promise callback ran');
});

test('when ZeroMQ refuses with EBUSY, later messages queue behind the one in flight and keep their order', async (t) => {
  const socket = new FakeSocket();
  const sender = new OrderedSender(socket);
  socket.writable = false;
  const sends = ['a', 'b', 'c'].map((name) => sender.send(frames(name)));
  t.deepEqual(socket.delivered, []);
  socket.becomeWritable();
  await Promise.all(sends);
  t.deepEqual(socket.delivered, ['a', 'b', 'c']);
  await sender.send(frames('d'));
  t.deepEqual(socket.delivered, ['a', 'b', 'c', 'd']);
});

test('a send that fails rejects its own promise and does not block the next', async (t) => {
  const failing: SendingSocket = {
    send: (f) => (f[0].toString() === 'bad' ? Promise.reject(new Error('EHOSTUNREACH')) : Promise.resolve()),
  };
  const sender = new OrderedSender(failing);
  await t.throwsAsync(sender.send(frames('bad')), { message: 'EHOSTUNREACH' });
  await t.notThrowsAsync(sender.send(frames('good')));
});
