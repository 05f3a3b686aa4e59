import react from '@vitejs/plugin-react'
import { defineConfig } from 'vite'

// The console is served by the control plane at /console (src/control/console/routes.ts) under a
// Content-Security-Policy without 'unsafe-inline': nothing may be inlined into index.html.
export default defineConfig({
  base: '/console/',
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: false,
    target: 'es2022',
  },
})
