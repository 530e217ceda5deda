/**
 * ZooKeeper's return codes that graykit acts on (the C client's `ZOO_ERRORS`, zookeeper.h), in one table so that no
 * module spells a bare `-101`. Imports nothing: errors and the registry both read it.
 */
export const ZK_CODES = {
  OK: 0,
  CONNECTIONLOSS: -4,
  OPERATIONTIMEOUT: -7,
  INVALIDSTATE: -9,
  NONODE: -101,
  NOAUTH: -102,
  BADVERSION: -103,
  NODEEXISTS: -110,
  NOTEMPTY: -111,
  SESSIONEXPIRED: -112,
  INVALIDACL: -114,
  AUTHFAILED: -115,
} as const;
