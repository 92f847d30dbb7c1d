// Starts a local did:plc directory and the reference AT Protocol PDS on free
// ports of this machine, with a data folder of their own, then prints one
// JSON line on stdout: {"pds":"http://localhost:PORT","plc":"http://localhost:PORT"}.
// Logs go to stderr. Stops on SIGTERM/SIGINT, or when stdin closes (the test
// that started it is gone). Usage: node start.mjs [DATA_DIR] (default: a new
// temporary folder, removed at exit).
//
// From docs/platforms/bluesky.md §8: @did-plc/server with
// Database.mock() (in memory, so the PDS data folder is always new), then
// the PDS through readEnv → envToCfg → envToSecrets → PDS.create → start.
import crypto from 'node:crypto'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import plc from '@did-plc/server'
import { PDS, envToCfg, envToSecrets, readEnv } from '@atproto/pds'

const freePort = () =>
  new Promise((resolve, reject) => {
    const srv = net.createServer()
    srv.unref()
    srv.on('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address()
      srv.close(() => resolve(port))
    })
  })

const given = process.argv[2]
const dataDir = given ?? fs.mkdtempSync(path.join(os.tmpdir(), 'berrah-pds-'))
fs.mkdirSync(path.join(dataDir, 'blobs'), { recursive: true })

const plcServer = plc.PlcServer.create({ db: plc.Database.mock(), port: 0 })
const plcHttp = await plcServer.start()
const plcUrl = `http://localhost:${plcHttp.address().port}`

const port = await freePort()
Object.assign(process.env, {
  PDS_HOSTNAME: 'localhost',
  PDS_PORT: String(port),
  PDS_DATA_DIRECTORY: dataDir,
  PDS_BLOBSTORE_DISK_LOCATION: path.join(dataDir, 'blobs'),
  PDS_JWT_SECRET: crypto.randomBytes(32).toString('hex'),
  PDS_ADMIN_PASSWORD: 'admin-pass',
  PDS_PLC_ROTATION_KEY_K256_PRIVATE_KEY_HEX: crypto.randomBytes(32).toString('hex'),
  PDS_DID_PLC_URL: plcUrl,
  PDS_INVITE_REQUIRED: 'false',
  PDS_DEV_MODE: 'true',
  PDS_SERVICE_HANDLE_DOMAINS: '.test',
  PDS_CRAWLERS: '',
  LOG_ENABLED: process.env.LOG_ENABLED ?? 'false',
})
const env = readEnv()
const pds = await PDS.create(envToCfg(env), envToSecrets(env))
await pds.start()

let stopping = false
const stop = async () => {
  if (stopping) return
  stopping = true
  try { await pds.destroy() } catch (e) { console.error(e) }
  try { await plcServer.destroy() } catch (e) { console.error(e) }
  if (!given) fs.rmSync(dataDir, { recursive: true, force: true })
  process.exit(0)
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
process.stdin.on('end', stop)
process.stdin.on('error', stop)
process.stdin.resume()

process.stdout.write(JSON.stringify({ pds: `http://localhost:${port}`, plc: plcUrl }) + '\n')
