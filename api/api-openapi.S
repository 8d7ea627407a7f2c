/* api-openapi: docs/openapi.json, embedded in the binary and served at /openapi.json. */
	.section .rodata
	.global pmemd_openapi_json
	.global pmemd_openapi_json_end
	.type pmemd_openapi_json, @object
pmemd_openapi_json:
	.incbin "docs/openapi.json"
pmemd_openapi_json_end:
	.byte 0
	.section .note.GNU-stack,"",@progbits
