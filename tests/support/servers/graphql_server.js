// The reference GraphQL over WebSocket server of the interoperability tests: npm
// `graphql-ws` 6 (the `graphql-transport-ws` subprotocol) on `ws` 8, with graphql 16, on
// loopback, with what a typical application has -- a query and a mutation that echo, a
// subscription that ticks `{seq, ts}` at a rate, and a pub/sub topic (a mutation `publish`
// delivering to the subscribers of `messages(topic)`) -- and its keep-alive set short so
// that a test outlasts several of its intervals.
//
//   node graphql_server.js [--port N] [--keep-alive-ms N] [--ping-ms N] [--token T]
//                          [--garbage-every N]
//
// --keep-alive-ms  graphql-ws' own keep-alive (`useServer`'s third argument): a WebSocket
//                  ping frame this often, and a client that has not answered with a pong
//                  frame by the next one is terminated (default 12000, graphql-ws's own)
// --ping-ms        also the protocol's own ping, `{"type":"ping"}`, this often; a client
//                  that has not answered `{"type":"pong"}` by the next one is closed with
//                  4408 "pong timeout" (0: never, the default: graphql-ws' server does not)
// --token T        connection_init's payload must hold {"token": T}: none closes the
//                  connection with 4401, a wrong one is refused by onConnect (4403 Forbidden)
// --garbage-every  every Nth echo also sends a message that is no graphql-transport-ws
//                  message at all (a malformed frame), beside its proper next and complete
//
// Prints one line `READY <port>` when it listens (port 0: the OS picks one), and exits when
// its standard input closes (the test that started it is gone).
const http = require("http");
const { WebSocketServer } = require("ws");
const { useServer } = require("graphql-ws/use/ws");
const { buildSchema } = require("graphql");

const args = process.argv.slice(2);
function option(name, fallback) {
  const at = args.indexOf(name);
  return at >= 0 ? args[at + 1] : fallback;
}
const keepAlive = Number(option("--keep-alive-ms", "12000"));
const pingMs = Number(option("--ping-ms", "0"));
const token = option("--token", "");
const garbageEvery = Number(option("--garbage-every", "0"));

const schema = buildSchema(`
  type Query { echo(message: String): String, stats: Stats! }
  type Mutation {
    echo(message: String): String
    publish(topic: String!, message_id: Int!, send_time: Float, payload: String): Int!
  }
  type Subscription { ticks(rate: Float): Tick!, messages(topic: String!): Message! }
  type Tick { seq: Int!, ts: Float! }
  type Message { message_id: Int!, send_time: Float, payload: String }
  type Stats { echoes: Int!, publishes: Int!, connects: Int!, subscribers: Int!,
               pongs: Int!, pings: Int! }
`);

let echoes = 0, publishes = 0, connects = 0, pongs = 0, pings = 0;
const topics = new Map();            // topic -> Set of push(message)

// An async iterator whose return() ends it at once (an async generator waiting for its next
// value would finish only at its next yield): graphql-ws calls return() on complete and close.
function channel(onEnd) {
  const queue = [];
  let wake = null, ended = false;
  return {
    push(value) {
      if (ended) return;
      if (wake) { const w = wake; wake = null; w({ value, done: false }); } else queue.push(value);
    },
    next() {
      if (queue.length) return Promise.resolve({ value: queue.shift(), done: false });
      if (ended) return Promise.resolve({ value: undefined, done: true });
      return new Promise((resolve) => { wake = resolve; });
    },
    return() {
      if (!ended) { ended = true; onEnd(); }
      if (wake) { const w = wake; wake = null; w({ value: undefined, done: true }); }
      return Promise.resolve({ value: undefined, done: true });
    },
    throw(error) { this.return(); return Promise.reject(error); },
    [Symbol.asyncIterator]() { return this; },
  };
}

function echo({ message }, context) {
  echoes += 1;
  if (garbageEvery > 0 && echoes % garbageEvery === 0) {
    context.socket.send("this is no graphql-transport-ws message {");
  }
  return message;
}

const roots = {
  query: {
    echo,
    stats: () => ({ echoes, publishes, connects, pongs, pings,
                    subscribers: [...topics.values()].reduce((n, s) => n + s.size, 0) }),
  },
  mutation: {
    echo,
    publish: ({ topic, message_id, send_time, payload }) => {
      publishes += 1;
      const subscribers = topics.get(topic);
      if (!subscribers) return 0;
      const message = { messages: { message_id, send_time, payload } };
      for (const push of subscribers) push(message);
      return subscribers.size;
    },
  },
  subscription: {
    ticks: ({ rate }) => {
      const perSecond = Math.max(1, Number(rate || 10));
      let seq = 0, timer = null;
      const ticks = channel(() => clearInterval(timer));
      timer = setInterval(() => {
        seq += 1;
        ticks.push({ ticks: { seq, ts: Date.now() / 1000 } });
      }, 1000 / perSecond);
      return ticks;
    },
    messages: ({ topic }) => {
      if (!topics.has(topic)) topics.set(topic, new Set());
      const subscribers = topics.get(topic);
      const messages = channel(() => subscribers.delete(messages.push));
      subscribers.add(messages.push);
      return messages;
    },
  },
};

const server = http.createServer();
const wss = new WebSocketServer({ server, perMessageDeflate: false });
useServer({
  schema,
  roots,
  context: (ctx) => ({ socket: ctx.extra.socket }),
  onConnect: (ctx) => {
    if (token) {
      const given = (ctx.connectionParams || {}).token;
      if (given === undefined) {
        ctx.extra.socket.close(4401, "Unauthorized: connection_init carries no token");
        return false;
      }
      if (given !== token) return false;           // graphql-ws closes with 4403 Forbidden
    }
    connects += 1;
    return true;
  },
}, wss, keepAlive);

if (pingMs > 0) {
  // the protocol's own keep-alive, beside graphql-ws' WebSocket pings
  wss.on("connection", (socket) => {
    let answered = true;
    socket.on("message", (data) => {
      if (String(data).startsWith('{"type":"pong"')) { answered = true; pongs += 1; }
    });
    const timer = setInterval(() => {
      if (!answered) { socket.close(4408, "pong timeout"); return; }
      answered = false;
      pings += 1;
      socket.send('{"type":"ping"}');
    }, pingMs);
    socket.once("close", () => clearInterval(timer));
  });
}

server.listen(Number(option("--port", "0")), "127.0.0.1", () => {
  process.stdout.write(`READY ${server.address().port}\n`);
});
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
