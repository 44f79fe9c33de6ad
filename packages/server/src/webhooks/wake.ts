import { EventBus } from '../events/bus.js';

/**
 * Wakes this process's delivery worker when deliveries were queued outside the dispatcher (a
 * replay): it only wakes, the worker reads the table. One per process, like `localEvents`.
 */
export const deliveriesQueued = new EventBus();
