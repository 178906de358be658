// Generates schema.d.ts from the repository's openapi.yaml, as the phone team does. The one
// option: `format: binary` becomes `Blob` (openapi-typescript's documented Node API example),
// so a photo is uploaded and downloaded as bytes.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import openapiTS, { astToString } from "openapi-typescript";
import ts from "typescript";

const here = path.dirname(fileURLToPath(import.meta.url));
const spec = new URL("file://" + path.resolve(here, "../../../openapi.yaml"));
const BLOB = ts.factory.createTypeReferenceNode(ts.factory.createIdentifier("Blob"));
const NULL = ts.factory.createLiteralTypeNode(ts.factory.createNull());

const ast = await openapiTS(spec, {
  transform(schemaObject, metadata) {
    if (schemaObject.format === "binary") {
      return schemaObject.nullable ? ts.factory.createUnionTypeNode([BLOB, NULL]) : BLOB;
    }
  },
});
fs.writeFileSync(path.join(here, "schema.d.ts"), astToString(ast));
