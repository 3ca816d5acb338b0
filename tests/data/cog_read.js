// SPDX-License-Identifier: Apache-2.0
// Reads every image of a (Cloud Optimized) GeoTIFF with the geotiff npm package, a reader that
// is not GDAL, and prints per image its size, the count of non-NaN pixels and their sum as JSON.
const { fromFile } = require('geotiff');
(async () => {
  const tiff = await fromFile(process.argv[2]);
  const images = [];
  for (let i = 0; i < await tiff.getImageCount(); ++i) {
    const image = await tiff.getImage(i);
    const [band] = await image.readRasters();
    let count = 0, sum = 0;
    for (const v of band) if (!Number.isNaN(v)) { ++count; sum += v; }
    images.push({ width: image.getWidth(), height: image.getHeight(), count, sum });
  }
  console.log(JSON.stringify(images));
})().catch(e => { console.error(e); process.exit(1); });
