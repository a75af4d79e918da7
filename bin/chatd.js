#!/usr/bin/env node
// The `chatd` command as npm links it. Plain JavaScript that any Node can parse, so that on an
// older Node it can hand over to the Node 24 that `npm install` put in node_modules.
import { runEntryPoint } from './run-entry-point.js';

runEntryPoint('chatd', '../cli/chatd.ts');
