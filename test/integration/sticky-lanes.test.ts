/** Sticky lanes end to end (test/support/sticky-lanes-suite.ts): the AsyncLocalStorage load test and the rest. */
import { stickyLanesSuite } from '../support/sticky-lanes-suite';

stickyLanesSuite(['als'], true);
