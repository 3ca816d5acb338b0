// SPDX-License-Identifier: Apache-2.0
// Decodes a TASKDATA folder with the isoxml npm parser (an implementation independent of
// fieldrx) and prints JSON: the shown rate of every grid cell with its centre, and the rates of
// the task's default (TSK@H), position-lost (I) and out-of-field (J) zones.
// Grid type 2 cells come from isoxml's own toGeoJSON (its cell geometry, zero cells left out);
// grid type 1 cells are decoded here by the ISO 11783-10 rule (row 0 south, column 0 west).
// Usage: NODE_PATH=<build>/npm/node_modules node decode_grid.js DIR/TASKDATA
const fs = require('fs'), path = require('path')
const JSZip = require('jszip')  // a dependency of isoxml
const { ISOXMLManager } = require('isoxml')

;(async () => {
  const dir = process.argv[2]
  const zip = new JSZip()
  for (const f of fs.readdirSync(dir)) zip.file('TASKDATA/' + f, fs.readFileSync(path.join(dir, f)))
  const m = new ISOXMLManager()
  await m.parseISOXMLFile(await zip.generateAsync({ type: 'uint8array' }), 'application/zip')
  const task = m.rootElement.attributes.Task[0]
  const t = task.attributes
  const grid = t.Grid[0]
  const g = grid.attributes
  const zones = new Map((t.TreatmentZone || []).map(z => [z.attributes.TreatmentZoneCode, z]))
  const shown = (zoneCode, raw) => {
    const pdv = zones.get(zoneCode).attributes.ProcessDataVariable[0].attributes
    const vpn = pdv.ValuePresentationIdRef.entity.attributes
    return { ddi: pdv.ProcessDataDDI, unit: vpn.UnitDesignator,
             value: ((raw ?? pdv.ProcessDataValue) + vpn.Offset) * vpn.Scale }
  }
  const cells = []
  if (g.GridType === '2') {
    for (const f of task.getGridAsGeoJSON(['raw']).features) {
      const ring = f.geometry.coordinates[0]
      cells.push([(ring[0][1] + ring[2][1]) / 2, (ring[0][0] + ring[2][0]) / 2,
                  shown(g.TreatmentZoneCode, f.properties.raw).value])
    }
  } else {
    const bytes = grid.binaryData
    for (let i = 0; i < bytes.length; i++) {
      const row = Math.floor(i / g.GridMaximumColumn), col = i % g.GridMaximumColumn
      cells.push([g.GridMinimumNorthPosition + (row + 0.5) * g.GridCellNorthSize,
                  g.GridMinimumEastPosition + (col + 0.5) * g.GridCellEastSize,
                  shown(bytes[i]).value])
    }
  }
  console.log(JSON.stringify({
    version: m.options.version, type: g.GridType, warnings: m.getWarnings(),
    default: shown(t.DefaultTreatmentZoneCode), position_lost: shown(t.PositionLostTreatmentZoneCode),
    out_of_field: shown(t.OutOfFieldTreatmentZoneCode), cells }))
})().catch(e => { console.log(JSON.stringify({ error: e.message })); process.exit(1) })
