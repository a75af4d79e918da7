#!/usr/bin/env node
// The `chat-bench` command as npm links it; see chatd.js beside it.
import { runEntryPoint } from './run-entry-point.js';

runEntryPoint('chat-bench', '../cli/chat-bench.ts');
