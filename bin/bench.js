#!/usr/bin/env node
// npm run bench: the benchmark harness (bench/main.mjs). It runs the compiled Herald in dist/.
import { main } from '../bench/main.mjs';

await main();
