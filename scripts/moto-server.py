#!/usr/bin/env python3
"""moto_server with its requests applied one at a time: what the tests and the bench run.

moto's TransactWriteItems copies the whole table first and, when a condition fails, puts the
copy back, so a write another request thread committed in between is undone (a release, a
ticket). DynamoDB's transactions are serializable. One lock around each request gives moto that
isolation; connections are still accepted on threads. Same arguments as moto_server.
"""
import threading

import moto.server

serve = moto.server.run_simple
one_at_a_time = threading.Lock()


def run_simple(host, port, application, **options):
    def serialized(environ, start_response):
        with one_at_a_time:
            # The body is built inside the lock too.
            return list(application(environ, start_response))

    serve(host, port, serialized, **options)


moto.server.run_simple = run_simple
moto.server.main()
