// The example app: a plain Node.js HTTP server run by nodesockd.
// Under nodesockd it listens on the socket in $LISTEN_ON, says "online"
// once it is ready, and finishes its requests when told "shutdown".
// Run alone, it listens on port 8000: `node example/app.js`.
const http = require('http');
const { listen } = require('..');

const server = http.createServer((req, res) => {
	res.end(`hello from worker ${process.env.NODESOCKD_WORKER_ID} (pid ${process.pid})\n`);
});
listen(server, 8000);
