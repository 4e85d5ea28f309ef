/**
 * The script a worker thread runs: module `name` (without extension) beside the module whose
 * import.meta.url is `here`. Under the test runner modules are TypeScript source, which a worker
 * cannot load; the thread then runs the compiled twin in dist/ (the suite builds dist/ first,
 * in test/global-setup.ts).
 */
export function threadScript(here: string, name: string): URL {
  if (!here.endsWith('.ts')) return new URL(`./${name}.js`, here);
  const compiled = here.replace(/\/src\/(?!.*\/src\/)/, '/dist/');
  return new URL(`./${name}.js`, compiled);
}
