/** lkrg-siem's version (agent.version in every event); kept equal to package.json by a test. */
export const VERSION = '0.1.0';
