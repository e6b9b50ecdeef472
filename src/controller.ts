// Controller mode: the Kubernetes source feeding the same pipeline. (Wired in the controller change.)
export async function runController(_options: unknown): Promise<never> {
  throw new Error('controller mode is not available yet');
}
