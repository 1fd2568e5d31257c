/* The live view's page, embedded in the binary (http_view.c serves it): no file at run time. */
	.section .rodata
	.global view_page_html
	.global view_page_html_end
view_page_html:
	.incbin "view/page.html"
view_page_html_end:
	.byte 0
	.section .note.GNU-stack,"",@progbits
