/**
 * ZooKeeper's return codes (the C client's `ZOO_ERRORS`, zookeeper.h), in one table so that no module spells a bare
 * `-101`. Imports nothing: errors and the registry both read it. errors.ts's `errorKind` says what each means to
 * graykit (unreachable, session expired, access denied, conflict, not found, invalid).
 */
export const ZK_CODES = {
  OK: 0,
  SYSTEMERROR: -1,
  RUNTIMEINCONSISTENCY: -2,
  DATAINCONSISTENCY: -3,
  CONNECTIONLOSS: -4,
  MARSHALLINGERROR: -5,
  UNIMPLEMENTED: -6,
  OPERATIONTIMEOUT: -7,
  BADARGUMENTS: -8,
  INVALIDSTATE: -9,
  NEWCONFIGNOQUORUM: -13,
  RECONFIGINPROGRESS: -14,
  SSLCONNECTIONERROR: -15,
  APIERROR: -100,
  NONODE: -101,
  NOAUTH: -102,
  BADVERSION: -103,
  NOCHILDRENFOREPHEMERALS: -108,
  NODEEXISTS: -110,
  NOTEMPTY: -111,
  SESSIONEXPIRED: -112,
  INVALIDCALLBACK: -113,
  INVALIDACL: -114,
  AUTHFAILED: -115,
  CLOSING: -116,
  NOTHING: -117,
  SESSIONMOVED: -118,
  NOTREADONLY: -119,
  EPHEMERALONLOCALSESSION: -120,
  NOWATCHER: -121,
  RECONFIGDISABLED: -123,
  SESSIONCLOSEDREQUIRESASLAUTH: -124,
  THROTTLEDOP: -127,
} as const;


/** The C client's session states that its `close` event reports (zookeeper.h `ZOO_*_STATE`), beside the codes above. */
export const ZK_STATES = {
  EXPIRED_SESSION: -112,
  AUTH_FAILED: -113,
  /** The C client's state after a request whose send failed: it has closed its socket (see zk-handle.ts). */
  NOT_CONNECTED: 999,
} as const;
