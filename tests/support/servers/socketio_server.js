// The reference Socket.IO server of the interoperability tests: npm `socket.io` 4 on
// loopback, with what a typical application does -- an acked "echo" event, rooms joined by
// an event and published to, a per-connection stream -- and its ping interval set short so
// that a test outlasts several of them.
//
//   node socketio_server.js [--ping-interval-ms N] [--ping-timeout-ms N] [--token T]
//
// Prints one line `READY <port>` when it listens (port 0: the OS picks one), and exits when
// its standard input closes (the test that started it is gone).
const http = require("http");
const { Server } = require("socket.io");

const args = process.argv.slice(2);
function option(name, fallback) {
  const at = args.indexOf(name);
  return at >= 0 ? args[at + 1] : fallback;
}
const pingInterval = Number(option("--ping-interval-ms", "25000"));
const pingTimeout = Number(option("--ping-timeout-ms", "20000"));
const token = option("--token", "");

const server = http.createServer();
const io = new Server(server, { pingInterval, pingTimeout, serveClient: false,
                                 perMessageDeflate: false, transports: ["websocket"] });
let acks = 0, events = 0, connects = 0;

io.use((socket, next) => {
  if (token && (socket.handshake.auth || {}).token !== token) {
    return next(new Error("not authorized: bad or missing token"));
  }
  next();
});

io.on("connection", (socket) => {
  connects += 1;
  let stream = null;
  socket.on("echo", (data, ack) => {
    events += 1;
    if (typeof ack === "function") { acks += 1; ack(data); }
  });
  socket.on("join", (room, ack) => {
    socket.join(String(room));
    if (typeof ack === "function") ack({ joined: String(room) });
  });
  socket.on("publish", (data) => {
    events += 1;
    io.to(String(data.room)).emit("message", data);
  });
  socket.on("stream", (spec) => {
    const perSecond = Math.max(1, Number((spec || {}).rate || 10));
    let seq = 0;
    if (stream) clearInterval(stream);
    stream = setInterval(() => {
      seq += 1;
      socket.emit("tick", { seq, ts: Date.now() / 1000 });
    }, 1000 / perSecond);
  });
  socket.on("stats", (_, ack) => { if (typeof ack === "function") ack({ acks, events, connects }); });
  socket.on("disconnect", () => { if (stream) clearInterval(stream); });
});

server.listen(Number(option("--port", "0")), "127.0.0.1", () => {
  process.stdout.write(`READY ${server.address().port}\n`);
});
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
