// The path sent upstream: the target URL's path, plus for forwardSubpath
// routes the rest of the request path after the matched prefix. That rest must
// stay under the target's path however the upstream reads it, for any upstream
// that percent-decodes it once and resolves dot segments (RFC 3986 §5.2.4):
// Python's http.server and nginx decode "%2F" into a separator, Windows and
// some Java servers also split at "\", Tomcat cuts a segment at ";", and
// servers that decode first cut the path at a decoded "?", "#" or NUL.
//
// So each segment of the rest is read as such an upstream would read it. A
// segment that is "." or ".." (also spelled "%2e") is resolved here, within
// the rest. Any other segment that some upstream could take for a dot
// segment ("..%2f", "..\", "..;x", "%2e%2e%00", "..%3f") makes the rest
// unforwardable, as does a decoded control character: the caller refuses the
// request. Double encoding is not undone: "%252e%252e" is "%2e%2e" after one
// decoding, a name; an upstream that decodes twice is not covered.

/** Only dots and spaces, at least one dot: ".", "..", "...", ".. " (Windows drops trailing dots and spaces). */
const DOT_LIKE = /^[ .]*\.[ .]*$/;
/** Where upstreams end a segment's name: path parameters (";"), and a decoded query, fragment or NUL. */
const NAME_END = /[;?#\0]/;
const SEPARATORS = /[/\\]/;
/** What can decode to a dot or a control character; a rest without any is forwarded as it is. */
const SUSPECT = /\.|%(?:2e|[01][0-9a-f]|7f)/i;

/**
 * `rest` is "" or starts with "/" (the matched prefix ends at a segment
 * boundary), and its escapes are well-formed UTF-8 (the Router refuses other
 * paths). Returns undefined when `rest` cannot be forwarded without the risk
 * of an upstream resolving it above `basePath`.
 */
export function upstreamPath(basePath: string, rest: string): string | undefined {
  if (rest === '') return basePath === '' ? '/' : basePath;
  if (!SUSPECT.test(rest)) return basePath + rest;
  const parts = rest.split('/');
  const kept: string[] = [];
  for (let i = 1; i < parts.length; i++) {
    const part = parts[i]!;
    if (!SUSPECT.test(part)) {
      kept.push(part);
      continue;
    }
    const decoded = decodeOnce(part);
    if (decoded === undefined) return undefined;
    if (decoded === '.' || decoded === '..') {
      if (decoded === '..') kept.pop();
      // "a/.." and "a/." still name a directory: keep the trailing slash.
      if (i === parts.length - 1) kept.push('');
      continue;
    }
    if (hasControl(decoded) || decoded.split(SEPARATORS).some(isDotLike)) return undefined;
    kept.push(part);
  }
  return `${basePath}/${kept.join('/')}`;
}

function hasControl(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return true;
  }
  return false;
}

function isDotLike(segment: string): boolean {
  const end = segment.search(NAME_END);
  return DOT_LIKE.test(end === -1 ? segment : segment.slice(0, end));
}

/** One percent-decoding, as UTF-8; undefined for a malformed escape or bytes that are not UTF-8. */
function decodeOnce(segment: string): string | undefined {
  if (!segment.includes('%')) return segment;
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}
