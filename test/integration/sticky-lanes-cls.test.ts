/** Sticky lanes end to end (test/support/sticky-lanes-suite.ts): the cls-hooked load test, on a worker of its own. */
import { stickyLanesSuite } from '../support/sticky-lanes-suite';

stickyLanesSuite(['cls'], false);
