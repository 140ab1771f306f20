import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// Built into web/dist, which the server serves at `/` (src/server/studio-static.ts).
// `npm run dev` proxies the API to a server on :4000 so the app can be worked on with hot reload.
export default defineConfig({
  plugins: [react()],
  // The real budget is gzipped (scripts/check-bundle-size.mjs); Vite's warning counts raw bytes.
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: false,
    target: 'es2022',
    chunkSizeWarningLimit: 1000,
  },
  server: {
    proxy: {
      '/graphql': { target: 'http://localhost:4000', ws: true },
      '/artifacts': 'http://localhost:4000',
    },
  },
});
