// A Lambda custom-runtime bootstrap for the spirt functions: the Runtime API loop (next invocation, run the
// handler, post the response or the error). It runs our handler behind AWS's Runtime Interface Emulator in
// the tests, and as a `provided` runtime's bootstrap on AWS. `node runtime-api.js <function name>`, or the
// function name in $_HANDLER.
import { handler as computeGradient } from './aws/compute-gradient';
import { handler as evaluate } from './aws/evaluate';
import { handler as zenoScores } from './aws/zeno-scores';

const HANDLERS: Record<string, (event: never) => Promise<unknown>> = {
  'compute-gradient': computeGradient,
  evaluate,
  'zeno-scores': zenoScores,
};

async function main(): Promise<void> {
  const api = process.env.AWS_LAMBDA_RUNTIME_API;
  const name = process.argv[2] ?? process.env._HANDLER ?? '';
  if (!api) throw new Error('AWS_LAMBDA_RUNTIME_API is not set: run under Lambda or the Runtime Interface Emulator');
  const base = `http://${api}/2018-06-01/runtime`;
  const fn = HANDLERS[name];
  if (!fn) {
    await fetch(`${base}/init/error`, {
      method: 'POST',
      headers: { 'Lambda-Runtime-Function-Error-Type': 'Runtime.UnknownHandler' },
      body: JSON.stringify({ errorType: 'Runtime.UnknownHandler', errorMessage: `no spirt function "${name}"` }),
    });
    process.exit(1);
  }
  for (;;) {
    const next = await fetch(`${base}/invocation/next`);
    const id = next.headers.get('lambda-runtime-aws-request-id') ?? '';
    const event = (await next.json()) as never;
    try {
      const result = await fn(event);
      await fetch(`${base}/invocation/${id}/response`, { method: 'POST', body: JSON.stringify(result) });
    } catch (err) {
      const e = err instanceof Error ? err : new Error(String(err));
      await fetch(`${base}/invocation/${id}/error`, {
        method: 'POST',
        headers: { 'Lambda-Runtime-Function-Error-Type': e.name },
        body: JSON.stringify({ errorType: e.name, errorMessage: e.message }),
      });
    }
  }
}

main().catch((err: Error) => {
  process.stderr.write(`spirt runtime: ${err.message}\n`);
  process.exit(1);
});
