// The real-parts check of `gavel mcp-proxy`: the official TypeScript SDK client talks,
// through the proxy, to the reference filesystem server.
//
// usage: node client.mjs <gavel> <policy-dir> <server-entry.js> <root-dir>
//
// Run from a directory whose node_modules holds the pinned packages (package.json and
// package-lock.json beside this file). Prints one JSON object with what it saw; the
// Rust test (tests/mcp_cli.rs) makes the assertions.
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { ListRootsRequestSchema } from '@modelcontextprotocol/sdk/types.js';

const [gavel, policyDir, serverEntry, root] = process.argv.slice(2);
if (!root) {
  console.error('usage: node client.mjs <gavel> <policy-dir> <server-entry.js> <root-dir>');
  process.exit(2);
}

const transport = new StdioClientTransport({
  command: gavel,
  args: ['mcp-proxy', '--policy-dir', policyDir, '--', process.execPath, serverEntry, root],
  env: { ...process.env },
  stderr: 'inherit',
});

// Declaring roots makes the server ask the client for them: a server -> client
// request that must cross the proxy both ways.
const client = new Client({ name: 'gavel-mcp-proxy-test', version: '1.0.0' }, { capabilities: { roots: {} } });
let rootsAsked;
const rootsRequested = new Promise((resolve) => { rootsAsked = resolve; });
client.setRequestHandler(ListRootsRequestSchema, async () => {
  rootsAsked(true);
  return { roots: [{ uri: pathToFileURL(root).href, name: 'test root' }] };
});

await client.connect(transport);
const { tools } = await client.listTools();
const sawRootsRequest = await Promise.race([
  rootsRequested,
  new Promise((resolve) => setTimeout(() => resolve(false), 10000)),
]);
const file = join(root, 'hello.txt');
const read = await client.callTool({ name: 'read_text_file', arguments: { path: file } });
const write = await client.callTool({
  name: 'write_file',
  arguments: { path: file, content: 'overwritten through the proxy' },
});
await client.close();
console.log(JSON.stringify({ tools: tools.map((t) => t.name), sawRootsRequest, read, write }));
