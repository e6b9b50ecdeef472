import { defineConfig } from 'vitest/config';

// End-to-end tests: a real kube-apiserver and etcd (hack/cluster.ts), the
// controller as a separate process, the AWS emulator as target.
export default defineConfig({
  test: {
    include: ['test/e2e/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 900_000,
    fileParallelism: false,
  },
});
