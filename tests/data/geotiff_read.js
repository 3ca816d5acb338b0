// SPDX-License-Identifier: Apache-2.0
// Reads a GeoTIFF with the geotiff npm package (a reader that is not GDAL) and prints its grid,
// EPSG code, nodata and distinct values as JSON, for the end-to-end tests.
const { fromFile } = require('geotiff');
(async () => {
  const tiff = await fromFile(process.argv[2]);
  const image = await tiff.getImage();
  const rasters = await image.readRasters();
  const geo = image.getGeoKeys();
  const values = Array.from(rasters[0]);
  console.log(JSON.stringify({ width: image.getWidth(), height: image.getHeight(), origin: image.getOrigin(),
    resolution: image.getResolution(), epsg: geo.GeographicTypeGeoKey, nodata: image.getGDALNoData(),
    distinct: [...new Set(values)].sort((a, b) => a - b) }));
})().catch(e => { console.error(e); process.exit(1); });
