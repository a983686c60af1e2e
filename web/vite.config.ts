import preact from "@preact/preset-vite";
import { defineConfig } from "vite";

// Served by the gateway under /app; every asset is local (no CDN at runtime).
export default defineConfig({
  base: "/app/",
  plugins: [preact()],
  build: { outDir: "dist", emptyOutDir: true, sourcemap: false, target: "es2020" },
});
