// Writes a Parquet file with an independent writer (parquet-wasm = arrow-rs, through apache-arrow JS),
// for dataset fixtures and for testing medvlmbench's native Parquet reader.
//
// usage: node tests/oracles/io/write_parquet.mjs SPEC.json
// SPEC: {"out": "file.parquet", "compression": "SNAPPY|ZSTD|GZIP|UNCOMPRESSED", "version": "V1|V2",
//        "dictionary": true, "row_group_size": 1024, "data_page_size": 1048576 (optional),
//        "encoding": "PLAIN|..." (optional), "column_encodings": {"col": "DELTA_BINARY_PACKED", ...} (optional),
//        "columns": [{"name": "question", "type": "utf8|binary|int64|int32|float64|float32|bool|image",
//                     "values": [...]}]}
// binary values are base64 strings; image values are {"bytes": base64|null, "path": string|null} or null
// (the Hugging Face datasets Image feature, struct<bytes: binary, path: string>). null = a null cell.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const modules = process.env.MVB_ORACLE_MODULES || path.join(here, '..', 'node_modules');
const require = createRequire(path.join(modules, 'x.js'));
const arrow = require('apache-arrow');
const pq = require('parquet-wasm');

const spec = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const b64 = (s) => (s == null ? null : new Uint8Array(Buffer.from(s, 'base64')));

const types = {
  utf8: () => new arrow.Utf8(),
  binary: () => new arrow.Binary(),
  int64: () => new arrow.Int64(),
  int32: () => new arrow.Int32(),
  float64: () => new arrow.Float64(),
  float32: () => new arrow.Float32(),
  bool: () => new arrow.Bool(),
  image: () =>
    new arrow.Struct([new arrow.Field('bytes', new arrow.Binary(), true), new arrow.Field('path', new arrow.Utf8(), true)]),
};

const vectors = {};
for (const col of spec.columns) {
  const make = types[col.type];
  if (!make) throw new Error(`unknown column type ${col.type}`);
  let values = col.values;
  if (col.type === 'binary') values = values.map(b64);
  if (col.type === 'int64') values = values.map((v) => (v == null ? null : BigInt(v)));
  if (col.type === 'image') values = values.map((v) => (v == null ? null : { bytes: b64(v.bytes), path: v.path ?? null }));
  vectors[col.name] = arrow.vectorFromArray(values, make());
}
const table = new arrow.Table(vectors);

let props = new pq.WriterPropertiesBuilder()
  .setCompression(pq.Compression[spec.compression || 'SNAPPY'])
  .setWriterVersion(pq.WriterVersion[spec.version || 'V1'])
  .setDictionaryEnabled(spec.dictionary !== false)
  .setMaxRowGroupSize(spec.row_group_size || 1024 * 1024);
if (spec.encoding) props = props.setEncoding(pq.Encoding[spec.encoding]);
if (spec.data_page_size) props = props.setDataPageSizeLimit(spec.data_page_size);
for (const [col, enc] of Object.entries(spec.column_encodings || {})) props = props.setColumnEncoding(col, pq.Encoding[enc]);
const wasmTable = pq.Table.fromIPCStream(arrow.tableToIPC(table, 'stream'));
const bytes = pq.writeParquet(wasmTable, props.build());
fs.mkdirSync(path.dirname(path.resolve(spec.out)), { recursive: true });
fs.writeFileSync(spec.out, bytes);
