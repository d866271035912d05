// The example app: a plain Node.js HTTP server run by nodesockd.
// Under nodesockd it listens on the socket in $LISTEN_ON, says "online"
// once it is ready, and finishes its requests when told "shutdown".
// Started suspended (nodesockd restart --suspended), it holds each request
// until `nodesockd resume`. Run alone, it listens on port 8000:
// `node example/app.js`. In an app of your own, require('nodesockd').
const http = require('http');
const { listen, suspend } = require('..');

const server = http.createServer(async (req, res) => {
	await suspend();
	res.end(`hello from worker ${process.env.NODESOCKD_WORKER_ID} (pid ${process.pid})\n`);
});
listen(server, 8000);
