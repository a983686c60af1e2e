// Copies GraphiQL and what its page loads (React UMD builds, the explorer plugin,
// js-cookie) from node_modules into dist/graphiql, so /graphql works without internet.
import { copyFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, "dist", "graphiql");
mkdirSync(out, { recursive: true });
const files = {
  "react.production.min.js": "react/umd/react.production.min.js",
  "react-dom.production.min.js": "react-dom/umd/react-dom.production.min.js",
  "js.cookie.min.js": "js-cookie/dist/js.cookie.min.js",
  "graphiql.min.css": "graphiql/graphiql.min.css",
  "graphiql.min.js": "graphiql/graphiql.min.js",
  "plugin-explorer.css": "@graphiql/plugin-explorer/dist/style.css",
  "plugin-explorer.umd.js": "@graphiql/plugin-explorer/dist/index.umd.js",
};
for (const [name, source] of Object.entries(files)) {
  copyFileSync(join(root, "node_modules", source), join(out, name));
}
console.log(`graphiql assets copied to ${out}`);
