// The path sent upstream: the target URL's path, plus for forwardSubpath
// routes the rest of the request path after the matched prefix. Dot segments
// in that rest (also percent-encoded ones, which upstreams may decode) are
// resolved within it, so a request can never climb above the target's path.

const isDot = (s: string) => s === '.' || s.toLowerCase() === '%2e';
const isDotDot = (s: string) => s.length <= 6 && s.length >= 2 && s.replace(/%2e/gi, '.') === '..';

/** `rest` is "" or starts with "/" (the matched prefix ends at a segment boundary). */
export function upstreamPath(basePath: string, rest: string): string {
  if (rest === '') return basePath === '' ? '/' : basePath;
  if (!rest.includes('.') && !rest.includes('%2')) return basePath + rest;
  const parts = rest.split('/');
  const kept: string[] = [];
  for (let i = 1; i < parts.length; i++) {
    const part = parts[i]!;
    const last = i === parts.length - 1;
    if (isDotDot(part)) kept.pop();
    if (isDotDot(part) || isDot(part)) {
      // "a/.." and "a/." still name a directory: keep the trailing slash.
      if (last) kept.push('');
    } else {
      kept.push(part);
    }
  }
  return `${basePath}/${kept.join('/')}`;
}
