// Builds the studio into the Python package (src/clipray/web/dist), which the Serve ingress
// serves at /. `npm run dev` proxies /api to a running `clipray serve` on 127.0.0.1:8000.
import react from "@vitejs/plugin-react";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

export default defineConfig({
  plugins: [react()],
  base: "/",
  build: {
    outDir: fileURLToPath(new URL("../src/clipray/web/dist", import.meta.url)),
    emptyOutDir: true,
    assetsDir: "assets",
    sourcemap: false,
  },
  server: {
    proxy: { "/api": "http://127.0.0.1:8000" },
  },
});
