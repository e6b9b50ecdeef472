// The parts of undici the controller uses, each loaded from its own file.
// undici's index loads every dispatcher, the mock agents, the cache and the
// WebSocket and EventSource clients as well: about 10 MB of RSS in a
// controller that uses none of them (heap, and the node binary's pages the
// extra code touches). undici declares no "exports" map, so these paths are
// part of what it publishes; test/operations/controller-modules.test.ts
// checks that the controller never loads the index.
import { createRequire } from 'node:module';
import type * as Undici from 'undici';

const require = createRequire(import.meta.url);

// request(), stream() and the rest of the dispatcher API, as undici's index adds them (invoke.ts uses request()).
Object.assign(require('undici/lib/dispatcher/dispatcher.js').prototype, require('undici/lib/api/index.js'));

export const Pool: typeof Undici.Pool = require('undici/lib/dispatcher/pool.js');
export type Pool = Undici.Pool;
export const Agent: typeof Undici.Agent = require('undici/lib/dispatcher/agent.js');
export type Agent = Undici.Agent;
export const buildConnector: typeof Undici.buildConnector = require('undici/lib/core/connect.js');
export const fetch: typeof Undici.fetch = require('undici/lib/web/fetch/index.js').fetch;
