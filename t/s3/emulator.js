#!/usr/bin/env node
/* SPDX-License-Identifier: MIT */
/*
 * emulator.js: a test-only S3 endpoint for digsigserver.
 *
 * s3rver (an S3 REST emulator that stores objects in a directory) listens on
 * a private loopback port; in front of it a small proxy checks every
 * request the way AWS does before it reaches s3rver:
 *   - the Authorization header is AWS4-HMAC-SHA256 with a known access key,
 *     the s3 service and the configured region;
 *   - x-amz-date is within 15 minutes of now;
 *   - a key issued with a session token needs the same x-amz-security-token;
 *   - the signature, recomputed with @smithy/signature-v4 (the AWS SDK's own
 *     signer) over the method, S3-canonical path and query, the signed
 *     headers and x-amz-content-sha256, matches: otherwise 403
 *     SignatureDoesNotMatch;
 *   - x-amz-content-sha256, unless UNSIGNED-PAYLOAD, is the body's SHA-256:
 *     otherwise 400 XAmzContentSHA256Mismatch.
 * Requests that pass are forwarded without their credentials.
 *
 * Fault injection for retry tests: POST /__dss_fault?status=503&count=2
 * makes the next 2 S3 requests answer 503 (status=0 closes the connection
 * without an answer, delay=SECONDS holds the answer back, skip=N lets N
 * requests through first).  GET /__dss_mark?ID is logged at once, so that
 * a test knows every request answered before it is in the log.
 *
 * Usage: node emulator.js DIR [--bucket NAME]...
 *   Writes DIR/port (the proxy's port) once both servers listen, and
 *   DIR/credentials.json.  Logs one line per request on stdout.
 */
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const http = require('http');
const path = require('path');
const S3rver = require('s3rver');
const { SignatureV4 } = require('@smithy/signature-v4');
const { Sha256 } = require('@aws-crypto/sha256-js');

const REGION = process.env.S3_EMULATOR_REGION || 'us-east-1';
const MAX_SKEW_MS = 15 * 60 * 1000;
const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

function usage() {
	console.error('usage: emulator.js DIR [--bucket NAME]...');
	process.exit(2);
}

const args = process.argv.slice(2);
if (args.length < 1)
	usage();
const dir = path.resolve(args[0]);
const buckets = [];
for (let i = 1; i < args.length; i++) {
	if (args[i] === '--bucket' && i + 1 < args.length)
		buckets.push(args[++i]);
	else
		usage();
}
if (buckets.length === 0)
	buckets.push('dss-keys', 'dss-artifacts');

/* Two accounts: a long-term key, and a temporary one needing a session token. */
const rand = (n) => crypto.randomBytes(n).toString('hex');
const accounts = {
	AKIADSSTEST0000LONG: { secret: rand(20), token: null },
	ASIADSSTEST000TEMP: { secret: rand(20), token: 'FwoGZXIvYXdzE' + rand(40) },
};

let faults = { status: 0, count: 0, delay: 0, skip: 0 };

/* RFC 3986 encoding, as S3 canonicalizes each path segment. */
function escapeUri(s) {
	return encodeURIComponent(s).replace(/[!'()*]/g,
		(c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
}

function s3Error(res, status, code, message) {
	const body = '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>' + code +
		'</Code><Message>' + message + '</Message><RequestId>dss-emulator</RequestId></Error>';
	res.writeHead(status, { 'Content-Type': 'application/xml',
		'Content-Length': Buffer.byteLength(body) });
	res.end(body);
	return status;
}

function parseAuthorization(value) {
	const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/.exec(value || '');
	if (!m)
		return null;
	return { accessKey: m[1], date: m[2], region: m[3], service: m[4],
		signedHeaders: m[5].split(';'), signature: m[6] };
}

function parseAmzDate(s) {
	const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s || '');
	if (!m)
		return null;
	return new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]));
}

/* The query as S3 reads it: every name=value decoded, a bare name means "". */
function parseQuery(raw) {
	const query = {};
	if (!raw)
		return query;
	for (const item of raw.split('&')) {
		if (item === '')
			continue;
		const eq = item.indexOf('=');
		const name = decodeURIComponent(eq < 0 ? item : item.slice(0, eq));
		const value = eq < 0 ? '' : decodeURIComponent(item.slice(eq + 1));
		if (name in query)
			query[name] = [].concat(query[name], value);
		else
			query[name] = value;
	}
	return query;
}

/* Returns null when the request may go on, else the status already sent. */
async function verify(req, body, res) {
	const auth = parseAuthorization(req.headers.authorization);
	if (!req.headers.authorization)
		return s3Error(res, 403, 'AccessDenied', 'Anonymous access is not allowed');
	if (!auth)
		return s3Error(res, 400, 'AuthorizationHeaderMalformed', 'Malformed AWS4-HMAC-SHA256 Authorization header');
	const account = accounts[auth.accessKey];
	if (!account)
		return s3Error(res, 403, 'InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.');
	if (auth.region !== REGION || auth.service !== 's3')
		return s3Error(res, 400, 'AuthorizationHeaderMalformed', 'The authorization header is malformed; the region or service is wrong; expecting ' + REGION + '/s3');
	const amzDate = req.headers['x-amz-date'];
	const when = parseAmzDate(amzDate);
	if (!when || amzDate.slice(0, 8) !== auth.date)
		return s3Error(res, 403, 'AccessDenied', 'x-amz-date missing or not matching the credential scope');
	if (Math.abs(Date.now() - when.getTime()) > MAX_SKEW_MS)
		return s3Error(res, 403, 'RequestTimeTooSkewed', 'The difference between the request time and the current time is too large.');
	const payloadHash = req.headers['x-amz-content-sha256'];
	if (!payloadHash)
		return s3Error(res, 400, 'InvalidRequest', 'Missing required header for this request: x-amz-content-sha256');
	for (const h of ['host', 'x-amz-date', 'x-amz-content-sha256'])
		if (!auth.signedHeaders.includes(h))
			return s3Error(res, 403, 'AccessDenied', 'Header ' + h + ' must be signed');
	if (account.token !== null) {
		if (req.headers['x-amz-security-token'] !== account.token ||
		    !auth.signedHeaders.includes('x-amz-security-token'))
			return s3Error(res, 403, 'InvalidToken', 'The provided token is malformed or otherwise invalid.');
	} else if (req.headers['x-amz-security-token'] !== undefined) {
		return s3Error(res, 403, 'InvalidToken', 'The provided token is malformed or otherwise invalid.');
	}

	const q = req.url.indexOf('?');
	const rawPath = q < 0 ? req.url : req.url.slice(0, q);
	let canonicalPath, query;
	try {
		canonicalPath = rawPath.split('/').map((s) => escapeUri(decodeURIComponent(s))).join('/');
		query = parseQuery(q < 0 ? '' : req.url.slice(q + 1));
	} catch (e) {
		return s3Error(res, 400, 'InvalidURI', 'Could not parse the specified URI.');
	}
	const headers = {};
	for (const h of auth.signedHeaders) {
		const v = req.headers[h];
		if (v === undefined)
			return s3Error(res, 403, 'SignatureDoesNotMatch', 'Signed header ' + h + ' is missing');
		headers[h] = Array.isArray(v) ? v.join(',') : v;
	}
	const signer = new SignatureV4({
		credentials: { accessKeyId: auth.accessKey, secretAccessKey: account.secret,
			sessionToken: account.token || undefined },
		region: REGION, service: 's3', sha256: Sha256,
		uriEscapePath: false, applyChecksum: true,
	});
	const signed = await signer.sign({
		method: req.method, protocol: 'http:', hostname: headers.host,
		path: canonicalPath, query, headers,
	}, { signingDate: when, signableHeaders: new Set(auth.signedHeaders) });
	const expected = /Signature=([0-9a-f]{64})/.exec(signed.headers.authorization)[1];
	const expectedHeaders = /SignedHeaders=([^,]+)/.exec(signed.headers.authorization)[1];
	if (expected !== auth.signature || expectedHeaders !== auth.signedHeaders.join(';'))
		return s3Error(res, 403, 'SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided. Check your key and signing method.');
	if (payloadHash !== 'UNSIGNED-PAYLOAD') {
		const actual = crypto.createHash('sha256').update(body).digest('hex');
		if (actual !== payloadHash && !(body.length === 0 && payloadHash === EMPTY_SHA256))
			return s3Error(res, 400, 'XAmzContentSHA256Mismatch', 'The provided x-amz-content-sha256 header does not match what was computed.');
	}
	return null;
}

function forward(req, body, res, backendPort) {
	const headers = Object.assign({}, req.headers);
	delete headers.authorization;
	delete headers.expect;
	headers['content-length'] = String(body.length);
	delete headers['transfer-encoding'];
	const up = http.request({ host: '127.0.0.1', port: backendPort, method: req.method,
		path: req.url, headers }, (ures) => {
		res.writeHead(ures.statusCode, ures.headers);
		ures.pipe(res);
	});
	up.on('error', (e) => {
		if (!res.headersSent)
			s3Error(res, 502, 'InternalError', 'emulator backend: ' + e.message);
		else
			res.destroy();
	});
	up.end(body);
}

async function main() {
	fs.mkdirSync(path.join(dir, 'data'), { recursive: true });
	const backend = new S3rver({
		address: '127.0.0.1', port: 0, silent: true,
		directory: path.join(dir, 'data'),
		configureBuckets: buckets.map((name) => ({ name })),
	});
	const baddr = await backend.run();

	const proxy = http.createServer((req, res) => {
		const chunks = [];
		req.on('data', (c) => chunks.push(c));
		req.on('end', async () => {
			const body = Buffer.concat(chunks);
			const log = (status) => console.log(`${new Date().toISOString()} ${req.method} ${req.url} ${body.length} -> ${status}`);
			if (req.url.startsWith('/__dss_mark')) {
				// logged at once: a test reads the log up to it
				res.writeHead(204);
				res.end();
				log('mark');
				return;
			}
			if (req.url.startsWith('/__dss_fault')) {
				const q = parseQuery(req.url.split('?')[1] || '');
				faults = { status: +(q.status || 0), count: +(q.count || 0), delay: +(q.delay || 0),
					skip: +(q.skip || 0) };
				res.writeHead(204);
				res.end();
				log('fault ' + JSON.stringify(faults));
				return;
			}
			if (faults.count > 0 && faults.skip > 0) {
				faults.skip--;
			} else if (faults.count > 0) {
				faults.count--;
				const f = Object.assign({}, faults);
				setTimeout(() => {
					if (f.status === 0) {
						req.socket.destroy();
						log('closed');
					} else {
						log(s3Error(res, f.status, f.status === 429 ? 'SlowDown' : 'ServiceUnavailable', 'Injected fault'));
					}
				}, f.delay * 1000);
				return;
			}
			try {
				const refused = await verify(req, body, res);
				if (refused !== null) {
					log(refused);
					return;
				}
			} catch (e) {
				log(s3Error(res, 500, 'InternalError', 'emulator: ' + e.message));
				return;
			}
			res.on('finish', () => log(res.statusCode));
			forward(req, body, res, baddr.port);
		});
	});
	proxy.listen(0, '127.0.0.1', () => {
		const port = proxy.address().port;
		fs.writeFileSync(path.join(dir, 'credentials.json'), JSON.stringify({
			region: REGION,
			long: { accessKeyId: 'AKIADSSTEST0000LONG', secretAccessKey: accounts.AKIADSSTEST0000LONG.secret },
			temporary: { accessKeyId: 'ASIADSSTEST000TEMP', secretAccessKey: accounts.ASIADSSTEST000TEMP.secret,
				sessionToken: accounts.ASIADSSTEST000TEMP.token },
		}, null, 1), { mode: 0o600 });
		fs.writeFileSync(path.join(dir, 'port.tmp'), String(port));
		fs.renameSync(path.join(dir, 'port.tmp'), path.join(dir, 'port'));
		console.log(`listening on 127.0.0.1:${port}, s3rver on 127.0.0.1:${baddr.port}, buckets ${buckets.join(' ')}`);
	});
	const stop = () => {
		proxy.close();
		backend.close().finally(() => process.exit(0));
		setTimeout(() => process.exit(0), 2000).unref();
	};
	process.on('SIGTERM', stop);
	process.on('SIGINT', stop);
}

main().catch((e) => {
	console.error('emulator: ' + (e.stack || e));
	process.exit(1);
});
