"""Use cases, one module each: the only code that combines storage, Ray and the pure core.

The CLI, the HTTP routes and the job runner's steps call these functions and only parse
their input and format the result, so a flow is written once. A refusal is a
:class:`clipray.domain.errors.CodedError` subclass, which every door reports the same way.
"""
