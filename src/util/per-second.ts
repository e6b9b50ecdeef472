/**
 * A formatter of times with a one-second resolution that formats each second
 * once: called per request with the current time, it builds its text about
 * once per second instead of every time.
 */
export function perSecond(format: (time: Date) => string): (epochMs: number) => string {
  let second = Number.NaN;
  let text = '';
  return (epochMs) => {
    const current = Math.floor(epochMs / 1000);
    if (current !== second) {
      second = current;
      text = format(new Date(current * 1000));
    }
    return text;
  };
}
