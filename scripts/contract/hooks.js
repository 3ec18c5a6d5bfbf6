// Dredd hooks for scripts/contract/run. Dredd replays each operation of the
// served /openapi.json with the document's examples; these hooks give it
// what a real orchestrator has and an example cannot: the credential (from
// the environment, never a command line) and the ids of the key and the
// server it made. Run with --sorted: POSTs first, DELETEs last.
const hooks = require('hooks');

const made = {};

hooks.beforeEach((transaction) => {
  transaction.request.headers['Auth-Api-Token'] = process.env.CONTRACT_TOKEN;
  let path = transaction.fullPath;
  if (made.key) {
    path = path.replace(/\/keys\/1$/, '/keys/' + encodeURIComponent(made.key));
  }
  if (made.server) {
    path = path.replace(/\/servers\/1(\/|$)/, '/servers/' + encodeURIComponent(made.server) + '$1');
  }
  transaction.fullPath = path;
  if (transaction.request.method === 'POST' && /\/servers$/.test(path)) {
    const order = JSON.parse(transaction.request.body);
    order.ssh_key = made.key;
    transaction.request.body = JSON.stringify(order);
  }
});

hooks.after('keys > /keys > Create SSH Key > 201 > application/json', (transaction) => {
  made.key = JSON.parse(transaction.real.body).id;
});

hooks.after('servers > /servers > Order Server > 201 > application/json', (transaction) => {
  made.server = JSON.parse(transaction.real.body).id;
});
