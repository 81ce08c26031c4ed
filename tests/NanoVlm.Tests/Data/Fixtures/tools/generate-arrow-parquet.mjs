// Regenerates arrow/cauldron/ai2d/train-00000.parquet and arrow/mmstar/val.parquet: parquet files written by another writer than
// Parquet.Net (arrow-rs through parquet-wasm), with the Hub's pyarrow schemas (list -> repeated group "list" -> "element").
// Usage (needs npm, not needed by the tests):
//   cd tests/NanoVlm.Tests/Data/Fixtures/tools && npm install && node generate-arrow-parquet.mjs
// ArrowParquetTests asserts the exact content written here; change both together.
import { Binary, Field, Int64, List, Struct, Utf8, makeTable, tableToIPC, vectorFromArray } from "apache-arrow";
import { Compression, Table, WriterPropertiesBuilder, writeParquet } from "parquet-wasm/node";
import fs from "fs";
import path from "path";
import zlib from "zlib";
import { fileURLToPath } from "url";

const fixtures = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

// A valid RGB PNG of width x height (8-bit, no filter), pixel colour derived from the position and a seed.
const crcTable = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, "ascii"), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}
function png(width, height, seed) {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // bit depth 8, colour type RGB, deflate, no filter, no interlace
  const raw = Buffer.alloc(height * (1 + 3 * width));
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const o = y * (1 + 3 * width) + 1 + 3 * x;
      raw.set([(x * 40 + seed * 70) & 0xff, (y * 50 + seed * 30) & 0xff, (seed * 90) & 0xff], o);
    }
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return new Uint8Array(Buffer.concat([signature, chunk("IHDR", ihdr), chunk("IDAT", zlib.deflateSync(raw)), chunk("IEND", Buffer.alloc(0))]));
}

const image = () => new Struct([new Field("bytes", new Binary(), true), new Field("path", new Utf8(), true)]);
const listOf = (type) => new List(new Field("element", type, true));

function write(file, columns) {
  const table = makeTable(Object.fromEntries(Object.entries(columns).map(([name, [type, values]]) => [name, vectorFromArray(values, type)])));
  const props = new WriterPropertiesBuilder().setCompression(Compression.SNAPPY).build();
  const bytes = writeParquet(Table.fromIPCStream(tableToIPC(table, "stream")), props);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, bytes);
  console.log(`${file}: ${bytes.length} bytes`);
}

// The Cauldron: images = list<struct<bytes, path>>, texts = list<struct<user, assistant, source>>.
const turn = (user, assistant) => ({ user, assistant, source: "ai2d" });
write(path.join(fixtures, "arrow", "cauldron", "ai2d", "train-00000.parquet"), {
  images: [listOf(image()), [
    [{ bytes: png(4, 3, 1), path: null }, { bytes: png(5, 2, 2), path: "second.png" }],
    [{ bytes: png(6, 6, 3), path: null }],
    [{ bytes: png(7, 1, 4), path: null }],
  ]],
  texts: [listOf(new Struct([new Field("user", new Utf8(), true), new Field("assistant", new Utf8(), true), new Field("source", new Utf8(), true)])), [
    [turn("What is shown in the first diagram?", "A food chain."), turn("Which organism is the producer?", "The grass.")],
    [turn("How many stages does the life cycle have?", "Four.")],
    [turn("Is this question left unanswered?", "")],
  ]],
});

// MMStar val: index, question, image struct<bytes, path>, answer letter, category, l2_category, meta_info struct.
const meta = (source, file) => ({ source, split: "val", image_path: [file] });
write(path.join(fixtures, "arrow", "mmstar", "val.parquet"), {
  index: [new Int64(), [0n, 1n, 2n]],
  question: [new Utf8(), [
    "Which option describes the object?\nOptions: A: a cup, B: a ball, C: a shoe",
    "What colour dominates the image?\nOptions: A: red, B: green, C: blue",
    "How many objects are there?\nOptions: A: one, B: two, C: three",
  ]],
  image: [image(), [
    { bytes: png(3, 5, 5), path: null },
    { bytes: png(8, 4, 6), path: null },
    { bytes: png(2, 9, 7), path: null },
  ]],
  answer: [new Utf8(), ["A", "B", "C"]],
  category: [new Utf8(), ["coarse perception", "fine-grained perception", "instance reasoning"]],
  l2_category: [new Utf8(), ["image scene and topic", "attribute recognition", "single-instance reasoning"]],
  meta_info: [new Struct([new Field("source", new Utf8(), true), new Field("split", new Utf8(), true), new Field("image_path", listOf(new Utf8()), true)]), [
    meta("MMBench", "images/0.jpg"), meta("SEEDBench_IMG", "images/1.jpg"), meta("ScienceQA", "images/2.jpg"),
  ]],
});
